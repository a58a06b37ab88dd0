"""A pool of two workers per CPU, each saying its name as it starts, then the squares of 0-9 as a
labelled list (written for the harness's tests, after PyMOTW-3's multiprocessing_pool.py, which is
described, not copied)."""

import multiprocessing


def start():
    print("Starting", multiprocessing.current_process().name)


def square(x):
    return x * x


if __name__ == "__main__":
    with multiprocessing.Pool(multiprocessing.cpu_count() * 2, initializer=start) as pool:
        squares = pool.map(square, range(10))
        pool.close()
        pool.join()
    print("Pool    :", squares)
