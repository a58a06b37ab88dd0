from multiprocessing import Process, Manager

def f(d, l):
    pass

if __name__ == '__main__':
    with Manager() as manager:
        d = manager.dict()
        l = manager.list(range(10))

        p = Process(target=f, args=(d, l))
        p.start()
        p.join()

        print({1: '1', '2': 2, 0.25: None})
        print(list(reversed(range(10))))
