"""Art for the built-in avatar packs, drawn with Pillow by ``scripts/draw_avatars.py``."""
