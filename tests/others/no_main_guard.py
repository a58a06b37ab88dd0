# No `if __name__ == "__main__":` guard: a spawned child re-imports this file and starts a process
# of its own while it is still starting up.
from multiprocessing import Process


def greet():
    print("hello")


p = Process(target=greet)
p.start()
p.join()
