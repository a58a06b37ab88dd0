import time, random
from multiprocessing import Process, Pipe, current_process
from multiprocessing.connection import wait

def foo(w):
    w.close()

if __name__ == '__main__':
    readers = []

    for i in range(4):
        r, w = Pipe(duplex=False)
        readers.append(r)
        p = Process(target=foo, args=(w,))
        p.start()
        w.close()

    for r in readers:
        try:
            r.recv()
        except EOFError:
            pass
    for n in range(1, 5):
        for i in range(10):
            print((i, 'Process-%d' % n))
