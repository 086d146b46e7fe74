"""Local fakes of the web services midimon's first-party plugins talk to: each a small
``http.server`` on 127.0.0.1, port 0, recording every request it answers."""
