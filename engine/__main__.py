from midimon.engine.cli import main

raise SystemExit(main())
