print("skiff-chaos: not yet wired")
