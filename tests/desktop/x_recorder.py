"""A Tk window that takes the keyboard focus and prints, one JSON object a line, every key and
button event that reaches it. Run as a separate process, so the keys it records really crossed
the X server from another client (pynput's own listener would miss XSendEvent'ed characters).

Usage: python x_recorder.py WIDTHxHEIGHT+X+Y
"""

from __future__ import annotations

import json
import sys
import tkinter as tk


def main() -> None:
    geometry = sys.argv[1] if len(sys.argv) > 1 else "400x300+100+100"
    root = tk.Tk()
    root.title("midimon-recorder")
    root.geometry(geometry)

    def emit(record: dict) -> None:
        sys.stdout.write(json.dumps(record) + "\n")
        sys.stdout.flush()

    def key(kind: str):
        return lambda e: emit(
            {"t": kind, "keysym": e.keysym, "char": e.char, "state": int(e.state), "time": int(e.time)}
        )

    root.bind("<KeyPress>", key("press"))
    root.bind("<KeyRelease>", key("release"))
    root.bind("<ButtonPress>", lambda e: emit({"t": "button", "num": e.num, "x_root": e.x_root, "y_root": e.y_root}))

    def ready() -> None:
        # No window manager runs on the test display: take the focus explicitly.
        root.focus_force()
        root.update()
        emit(
            {
                "t": "ready",
                "x": root.winfo_rootx(),
                "y": root.winfo_rooty(),
                "w": root.winfo_width(),
                "h": root.winfo_height(),
            }
        )

    root.after(200, ready)
    root.mainloop()


if __name__ == "__main__":
    main()
