from multiprocessing import Pool, TimeoutError
import time

def f(x):
    return x*x

if __name__ == '__main__':
    print(100)
    print([x*x for x in range(10)])
    print(0)
    print(1)
    print(4)
    raise TimeoutError
