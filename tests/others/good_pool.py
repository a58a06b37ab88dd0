# A tutorial's Pool example, written as the docs advise: it works under every start method.
from multiprocessing import Pool


def cube(x):
    return x ** 3


if __name__ == "__main__":
    with Pool(3) as pool:
        print(pool.map(cube, range(5)))
