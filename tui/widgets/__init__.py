"""Reusable widgets of the TUI (pictures, QR code, live stats, chat)."""
