"""plotext's picture (lines of text with ANSI colour codes) as Textual strips, in one pass.

Going through rich (Text.from_ansi, then a style per run, then rendering) cost about 40 ms of a 60-80 ms
plot redraw at 120x40; this reads plotext's few SGR codes directly. Two things it does on the way:
- fewer style runs: plotext leaves the blanks between points without a foreground, so a plot line is
  dozens of short runs, each costing the terminal a style sequence and a reset (about 25 bytes). A
  blank shows only its background, so when that matches the previous character's, it joins that run.
- `ascii`: plotext's frame and tick characters become - | + (--ascii), and anything else outside
  ASCII becomes *.
"""
from __future__ import annotations

import re
from functools import lru_cache

from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip

SGR = re.compile(r"\x1b\[([0-9;]*)m")
ATTRIBUTES = {1: "bold", 2: "dim", 3: "italic", 4: "underline", 5: "blink", 7: "reverse", 9: "strike"}
LINED = ("underline", "reverse", "strike")  # a blank with one of these shows more than its background
ASCII_FRAME = str.maketrans({"─": "-", "━": "-", "│": "|", "┃": "|", "┌": "+", "┐": "+", "└": "+", "┘": "+",
                             "├": "+", "┤": "+", "┬": "+", "┴": "+", "┼": "+", "╭": "+", "╮": "+", "╰": "+",
                             "╯": "+", "•": "*", "·": ".", "→": ">", "↓": "v", "×": "x", "÷": "/"})
NULL = Style.null()


def to_ascii(text: str) -> str:
    text = text.translate(ASCII_FRAME)
    return text if text.isascii() else "".join(c if c.isascii() else "*" for c in text)


def ascii_text(text: Text) -> Text:
    """`text` with to_ascii's characters, one for one, so its styles stay in place."""
    result = Text(to_ascii(text.plain), style=text.style, justify=text.justify, no_wrap=text.no_wrap, end=text.end)
    result.spans[:] = text.spans
    return result


@lru_cache(maxsize=1024)
def style_of(state: tuple) -> Style:
    """The style of (foreground, background, attributes) as parsed from SGR codes."""
    color, bgcolor, attributes = state
    return Style(color=color, bgcolor=bgcolor, **{name: True for name in attributes}) if state != EMPTY else NULL


EMPTY = (None, None, frozenset())


@lru_cache(maxsize=4096)
def apply_sgr(state: tuple, params: str) -> tuple:
    """The state after one SGR sequence (0 resets; 38/48 set 256-colour or RGB colours; 39/49 default)."""
    color, bgcolor, attributes = state
    codes = [int(code) for code in params.split(";") if code.isdigit()] or [0]
    i = 0
    while i < len(codes):
        code = codes[i]
        if code == 0:
            color, bgcolor, attributes = EMPTY
        elif code in (38, 48) and i + 2 < len(codes) and codes[i + 1] == 5:
            value = Color.from_ansi(codes[i + 2] % 256)
            color, bgcolor = (value, bgcolor) if code == 38 else (color, value)
            i += 2
        elif code in (38, 48) and i + 4 < len(codes) and codes[i + 1] == 2:
            value = Color.from_rgb(*(min(c, 255) for c in codes[i + 2:i + 5]))
            color, bgcolor = (value, bgcolor) if code == 38 else (color, value)
            i += 4
        elif code == 39:
            color = None
        elif code == 49:
            bgcolor = None
        elif 30 <= code <= 37 or 90 <= code <= 97:
            color = Color.from_ansi(code - 30 if code < 90 else code - 82)
        elif 40 <= code <= 47 or 100 <= code <= 107:
            bgcolor = Color.from_ansi(code - 40 if code < 100 else code - 92)
        elif code in ATTRIBUTES:
            attributes = attributes | {ATTRIBUTES[code]}
        i += 1
    return color, bgcolor, attributes


def ansi_strips(picture: str, width: int, height: int, ascii: bool = False) -> list[Strip]:
    """`picture` as `height` strips of exactly `width` cells (lines cut or padded with blanks)."""
    lines = picture.split("\n")[:height]
    lines += [""] * (height - len(lines))
    return [_strip(line, width, ascii) for line in lines]


PIECES = re.compile(r" +|[^ ]+")


def _strip(line: str, width: int, ascii: bool) -> Strip:
    segments: list[Segment] = []
    text, run_state, state, used = [], None, EMPTY, 0
    position = 0
    for match in [*SGR.finditer(line), None]:
        chunk = line[position:match.start() if match else len(line)]
        if ascii:
            chunk = to_ascii(chunk)
        for piece in PIECES.findall(chunk):
            piece = piece[:width - used]
            if not piece:
                break
            own = state
            if piece[0] == " " and run_state is not None and state[1] == run_state[1] \
                    and state[2].isdisjoint(LINED) and run_state[2].isdisjoint(LINED):
                own = run_state  # blanks look the same in the run before them
            if own != run_state:
                if text:
                    segments.append(Segment("".join(text), style_of(run_state)))
                text, run_state = [], own
            text.append(piece)
            used += len(piece)
        if match is None:
            break
        state, position = apply_sgr(state, match.group(1)), match.end()
    if text:
        segments.append(Segment("".join(text), style_of(run_state)))
    if used < width:
        segments.append(Segment(" " * (width - used), NULL))
    return Strip(segments, width)
