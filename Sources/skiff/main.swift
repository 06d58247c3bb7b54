print("skiff: not yet wired")
