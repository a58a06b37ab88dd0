from multiprocessing import Process, freeze_support

def f():
    pass

if __name__ == '__main__':
    freeze_support()
    Process(target=f).start()
    print('hello world!')
