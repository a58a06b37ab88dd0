# Chooses spawn itself, as the docs suggest for portable code: the fork and forkserver columns
# do not apply to it.
import multiprocessing as mp


def greet(q):
    q.put("hello")


if __name__ == "__main__":
    mp.set_start_method("spawn")
    q = mp.Queue()
    p = mp.Process(target=greet, args=(q,))
    p.start()
    print(q.get())
    p.join()
