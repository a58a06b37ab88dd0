from multiprocessing import Process, Pipe

def worker(conn):
    conn.send('Hello through a pipe')
    conn.close()

if __name__ == '__main__':
    parent_end, child_end = Pipe()
    p = Process(target=worker, args=(child_end,))
    p.start()
    print(parent_end.recv())
    p.join()
