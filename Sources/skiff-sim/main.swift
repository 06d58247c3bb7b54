print("skiff-sim: not yet wired")
