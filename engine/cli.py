def main(argv=None):
    print("midimon")
    return 0
