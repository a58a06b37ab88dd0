"""Numbers read from stdin, squared by a pool, each printed after the label given as the program's
argument; under -O, assert statements are gone (written for the harness's tests)."""

import multiprocessing
import sys


def square(x):
    assert not __debug__, "under -O an assert is gone: it never runs"
    return x * x


if __name__ == "__main__":
    numbers = [int(line) for line in sys.stdin]
    with multiprocessing.Pool(2) as pool:
        for result in pool.imap(square, numbers):
            print(sys.argv[1], result)
