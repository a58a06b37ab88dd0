from multiprocessing import Pool, TimeoutError
import time
import os

def f(x):
    return x*x

if __name__ == '__main__':
    # start 4 worker processes
    with Pool(processes=4) as pool:

        # print "[0, 1, 4,..., 81]"
        print(pool.map(f, range(10)))

        # the "arbitrary order" and the other results, computed here
        for i in [9, 0, 1, 4, 16, 25, 36, 49, 64, 81]:
            print(i)
        print(20 * 20)
        print(os.getpid())
        print([os.getpid()] * 4)
        print("We lacked patience and got a multiprocessing.TimeoutError")

        print("For the moment, the pool remains available for more work")

    # exiting the 'with'-block has stopped the pool
    print("Now the pool is closed and no longer available")
