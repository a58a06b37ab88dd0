"""Main terminates a child that would sleep for a minute, and says so (written for the harness's
tests, after PyMOTW-3's multiprocessing_terminate.py, which is described, not copied)."""

import multiprocessing
import time


def sleep():
    time.sleep(60)


if __name__ == "__main__":
    child = multiprocessing.Process(target=sleep)
    child.start()
    child.terminate()
    child.join()
    print("terminated:", child.exitcode < 0)
