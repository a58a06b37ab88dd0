from multiprocessing import Process, Lock, Value
import time
import random

def worker(lock, shared_counter):
    """Child process task: modify the shared counter after acquiring the lock"""
    process_name = f"Process-{Process().name}"

    # Simulate random time-consuming operation (non-critical section)
    time.sleep(random.uniform(0.1, 0.5))

    # Use with statement to automatically acquire and release the lock (recommended)
    with lock:
        print(f"{process_name} entered critical section")

        # ---- Critical section begins ----
        current_value = shared_counter.value
        time.sleep(0.1)  # Simulate time-consuming operation (amplifying race condition)
        shared_counter.value = current_value + 1
        print(f"{process_name} modified counter: {current_value} -> {shared_counter.value}")
        # ---- Critical section ends ----

if __name__ == '__main__':
    # Create a shared counter (initial value=0) and a process lock
    counter = Value('i', 0)  # 'i' indicates a signed integer
    process_lock = Lock()

    # Create and start 5 processes
    processes = []
    for i in range(5):
        p = Process(target=worker, args=(process_lock, counter))
        processes.append(p)
        p.start()

    # Wait for all processes to complete
    for p in processes:
        p.join()

    # Verify result (should be 5 in correct cases)
    print(f"\nFinal counter value: {counter.value} (expected value: 5)")
