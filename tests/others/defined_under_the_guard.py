# The target is defined inside the main guard: a spawned child imports the file without running
# that block, so the function is not there to unpickle.
from multiprocessing import Process

if __name__ == "__main__":

    def greet():
        print("hello")

    p = Process(target=greet)
    p.start()
    p.join()
