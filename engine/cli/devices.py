"""`midimon devices`: list MIDI inputs and outputs."""

from __future__ import annotations

from midimon.engine.cli import add_json, print_json


def register(sub) -> None:
    p = sub.add_parser("devices", help="list MIDI input and output ports")
    add_json(p)
    p.set_defaults(handler=cmd_devices)


def cmd_devices(args) -> int:
    from midimon.engine.backends import auto

    backend = auto()
    try:
        return _show(args, backend)
    finally:
        close = getattr(backend, "close", None)
        if close:
            close()


def _show(args, backend) -> int:
    problem = backend.problem()
    if problem:
        if args.json:
            print_json({"ok": False, "backend": backend.name, "error": problem, "inputs": [], "outputs": []})
        else:
            print(f"midimon: {problem}")
        return 1
    inputs, outputs = backend.input_names(), backend.output_names()
    if args.json:
        print_json({"ok": True, "backend": backend.name, "inputs": inputs, "outputs": outputs})
        return 0
    print(f"MIDI back end: {backend.name}")
    print("Inputs:" if inputs else "Inputs: none")
    for name in inputs:
        print(f"  {name}")
    print("Outputs:" if outputs else "Outputs: none")
    for name in outputs:
        print(f"  {name}")
    return 0
