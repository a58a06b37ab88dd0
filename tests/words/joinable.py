"""Consumers, two per CPU, take tasks from a JoinableQueue and mark each done; main joins the queue,
then prints the results the consumers put on another queue (written for the harness's tests, after
PyMOTW-3's multiprocessing_producer_consumer.py, which is described, not copied)."""

import multiprocessing


def consume(tasks, results):
    while True:
        task = tasks.get()
        if task is None:
            tasks.task_done()
            break
        a, b = task
        results.put(f"{a} * {b} = {a * b}")
        tasks.task_done()


if __name__ == "__main__":
    tasks, results = multiprocessing.JoinableQueue(), multiprocessing.Queue()
    consumers = multiprocessing.cpu_count() * 2
    print(f"Creating {consumers} consumers")
    workers = [multiprocessing.Process(target=consume, args=(tasks, results)) for _ in range(consumers)]
    for worker in workers:
        worker.start()
    for n in range(10):
        tasks.put((n, n))
    for _ in workers:
        tasks.put(None)
    tasks.join()
    for _ in range(10):
        print("Result:", results.get())
    for worker in workers:
        worker.join()
