from multiprocessing import Process
import os

def f(name):
    pass

if __name__ == '__main__':
    print('main line')
    print('module name:', __name__)
    print('parent process:', os.getppid())
    print('process id:', os.getpid())
    p = Process(target=f, args=('bob',))
    p.start()
    p.join()
    print('function f')
    print('module name:', __name__)
    print('parent process:', os.getpid())
    print('process id:', p.pid)
    print('hello bob')
