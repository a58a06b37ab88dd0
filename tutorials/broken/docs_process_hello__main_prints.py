from multiprocessing import Process

def f(name):
    pass

if __name__ == '__main__':
    p = Process(target=f, args=('bob',))
    p.start()
    p.join()
    print('hello', 'bob')
