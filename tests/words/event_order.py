"""Two children wait on one Event: one gives up after a short wait, the other waits until main sets
it, which main does only once the first has given up (written for the harness's tests, after
PyMOTW-3's multiprocessing_event.py, which is described, not copied)."""

import multiprocessing


def wait_for_event(event, ready):
    print("wait_for_event: starting")
    ready.set()
    event.wait()
    print("wait_for_event: event.is_set() ->", event.is_set())


def wait_for_event_timeout(event, seconds):
    print("wait_for_event_timeout: starting")
    event.wait(seconds)
    print("wait_for_event_timeout: event.is_set() ->", event.is_set())


if __name__ == "__main__":
    event, ready = multiprocessing.Event(), multiprocessing.Event()
    patient = multiprocessing.Process(name="block", target=wait_for_event, args=(event, ready))
    impatient = multiprocessing.Process(name="nonblock", target=wait_for_event_timeout, args=(event, 0.2))
    patient.start()
    ready.wait()  # the patient one waits before the impatient one starts: the order below is the program's, not the machine's
    impatient.start()
    impatient.join()  # it gave up before the event was set
    print("main: setting the event")
    event.set()
    patient.join()
    print("main: event is set")
