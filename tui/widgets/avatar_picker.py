"""Avatar picker: list of packs, the chosen pack's variants, and a half-block preview.

Pack loading and PNG decoding run in thread workers (``exclusive`` so a fast scroll through the
list only renders the last choice); the widget posts :class:`AvatarPicker.Changed` up so the
screen owning it decides what a choice means (home: remember it; call: switch mid-call).
"""

from __future__ import annotations

from PIL import Image
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Button, Label, OptionList, Select
from textual.widgets.option_list import Option

from i18n import N_, _
from tui.avatar_catalog import (
    FALLBACK_AVATAR,
    AvatarChoice,
    builtin_choices,
    own_choice,
    preview_image,
)
from tui.widgets.picture import Picture


class AvatarPicker(Horizontal):
    """Emits :class:`Changed` whenever the avatar or its variant changes."""

    DEFAULT_CSS = """
    AvatarPicker { height: auto; }
    AvatarPicker #avatar-lists { width: 1fr; height: auto; }
    AvatarPicker OptionList { height: 8; }
    AvatarPicker Select { width: 1fr; }
    AvatarPicker Picture { width: 26; height: 13; margin-left: 1; }
    AvatarPicker #avatar-error { color: $error; height: auto; }
    AvatarPicker #avatar-file { width: 1fr; }
    """

    class Changed(Message):
        def __init__(self, ref: str, variant: str) -> None:
            super().__init__()
            self.ref = ref
            self.variant = variant

    class Chosen(Changed):
        """Enter was pressed on an avatar (the switcher takes it as confirmation)."""

    avatar: reactive[str] = reactive("")
    variant: reactive[str] = reactive("")

    def __init__(self, initial: str = "", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._initial = initial
        self.choices: list[AvatarChoice] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="avatar-lists"):
            yield OptionList(id="avatar-list")
            yield Select[str]([], prompt=_("Variant"), allow_blank=True, id="variant-select")
            yield Label("", id="avatar-error")
            yield Button(_("Your own avatar file..."), id="avatar-file")
        yield Picture(id="avatar-preview")

    def on_mount(self) -> None:
        self.query_one(Picture).placeholder = N_("loading...")
        self._load_choices()

    @work(thread=True, exclusive=True, group="avatar-choices")
    def _load_choices(self) -> None:
        choices = builtin_choices()
        self.app.call_from_thread(self._set_choices, choices)

    def _set_choices(self, choices: list[AvatarChoice]) -> None:
        if not self.is_attached:
            return
        if not choices:  # builtin_choices() never returns none, but a bad install might
            choices = [AvatarChoice(FALLBACK_AVATAR, FALLBACK_AVATAR, error=_("no avatars found"))]
        self.choices = choices
        options = self.query_one(OptionList)
        options.clear_options()
        options.add_options([Option(c.label, id=c.id) for c in choices])
        ids = [c.id for c in choices]
        looks_like_path = "/" in self._initial or "." in self._initial
        if self._initial and self._initial not in ids and looks_like_path:
            # A path given on the command line or kept from a pick: listed as it is (the
            # window checks it and falls back with the reason if it cannot draw it).
            self._add_option(own_choice(self._initial))
            ids.append(self._initial)
        start = ids.index(self._initial) if self._initial in ids else 0
        options.highlighted = start
        if self.screen.focused is None or self.screen.focused is options:
            options.focus()  # keys pressed while loading land on the list, not nowhere
        self._select(choices[start].id)

    def _add_option(self, choice: AvatarChoice) -> None:
        self.choices.append(choice)
        self.query_one(OptionList).add_option(Option(choice.label, id=choice.id))

    @on(Button.Pressed, "#avatar-file")
    def _pick_file(self, event: Button.Pressed) -> None:
        event.stop()
        from tui.screens.avatar_file import AvatarFileScreen

        self.app.push_screen(AvatarFileScreen(), self._file_chosen)

    def _file_chosen(self, choice: AvatarChoice | None) -> None:
        """A checked file or pack becomes a choice (listed once) and the chosen one."""
        if choice is None or not self.is_attached:
            return
        if self.choice(choice.id) is None:
            self._add_option(choice)
        options = self.query_one(OptionList)
        index = next(i for i, c in enumerate(self.choices) if c.id == choice.id)
        options.highlighted = index
        options.focus()
        self._select(choice.id)

    def choice(self, ref: str) -> AvatarChoice | None:
        return next((c for c in self.choices if c.id == ref), None)

    @on(OptionList.OptionHighlighted, "#avatar-list")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        if event.option.id and event.option.id != self.avatar:
            self._select(event.option.id)

    @on(OptionList.OptionSelected, "#avatar-list")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        """Enter on an avatar: the owner may treat it as "use this one"."""
        event.stop()
        if event.option.id and event.option.id != self.avatar:
            self._select(event.option.id)
        self.post_message(self.Chosen(self.avatar, self.variant))

    def _select(self, ref: str) -> None:
        choice = self.choice(ref)
        select: Select[str] = self.query_one("#variant-select", Select)
        variants = choice.variants if choice else []
        select.set_options([(name, vid) for vid, name in variants])
        variant = choice.default_variant if choice else ""
        if variant and any(v == variant for v, _ in variants):
            select.value = variant
        select.display = bool(variants)
        self.query_one("#avatar-error", Label).update(
            _("cannot load: {error}").format(error=choice.error) if choice and choice.error else ""
        )
        self.avatar = ref
        self.variant = variant
        self._changed()

    @on(Select.Changed, "#variant-select")
    def _variant_changed(self, event: Select.Changed) -> None:
        event.stop()
        value = event.value if isinstance(event.value, str) else ""
        if value != self.variant:
            self.variant = value
            self._changed()

    def _changed(self) -> None:
        self.post_message(self.Changed(self.avatar, self.variant))
        self.query_one(Picture).placeholder = N_("loading...")
        self._load_preview(self.avatar, self.variant)

    @work(thread=True, exclusive=True, group="avatar-preview")
    def _load_preview(self, ref: str, variant: str) -> None:
        image = preview_image(ref, variant or None)
        self.app.call_from_thread(self._set_preview, image)

    def _set_preview(self, image: Image.Image | None) -> None:
        try:
            picture = self.query_one(Picture)
        except NoMatches:  # the picker's modal was closed while the image loaded
            return
        picture.placeholder = N_("no preview")
        picture.image = image
