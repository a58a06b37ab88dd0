from multiprocessing import Process, Pipe

def f(conn):
    conn.send('something else')
    conn.close()

if __name__ == '__main__':
    parent_conn, child_conn = Pipe()
    p = Process(target=f, args=(child_conn,))
    p.start()
    p.join()
    print([42, None, 'hello'])
