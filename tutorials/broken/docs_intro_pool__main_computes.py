from multiprocessing import Pool

def f(x):
    return x*x

if __name__ == '__main__':
    with Pool(5) as p:
        p.map(f, [0, 0, 0])
        print([x*x for x in [1, 2, 3]])
