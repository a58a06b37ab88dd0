# A lambda as the target: fork copies it, spawn and forkserver must pickle it, and cannot.
from multiprocessing import Process

if __name__ == "__main__":
    p = Process(target=lambda: print("hello from a lambda"))
    p.start()
    p.join()
