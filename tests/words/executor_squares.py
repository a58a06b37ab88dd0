"""Squares of 0-4 computed by a ProcessPoolExecutor's workers, each printed beside its number
(written for the harness's tests: a light executor, where the documentation's is CPU-bound)."""

import concurrent.futures


def square(x):
    return x * x


if __name__ == "__main__":
    with concurrent.futures.ProcessPoolExecutor(max_workers=2) as executor:
        for x, y in zip(range(5), executor.map(square, range(5)), strict=True):
            print(f"{x} squared is {y}")
