"""The claim checks on output text alone: the article's own sample output passes, and output
that two processes wrote at once (split or merged lines) cannot cause a false failure."""
import pytest

from harness.claims import ClaimBroken, check_lock, check_pool, check_processes, check_queue

# What the article shows each program printing, copied from the article.
ARTICLE_OUTPUT = {
    "01_processes": "0\na\nb\n1\nc\n2\nd\n3\ne\n4\n5\nf\ng\n6\nh\n7\n8\ni\nj\n9\n",
    "02_queue": "Hello, world!\n",
    "03_lock": (
        "Process-Process-2:1 entered critical section\nProcess-Process-2:1 modified counter: 0 -> 1\n"
        "Process-Process-1:1 entered critical section\nProcess-Process-1:1 modified counter: 1 -> 2\n"
        "Process-Process-5:1 entered critical section\nProcess-Process-5:1 modified counter: 2 -> 3\n"
        "Process-Process-3:1 entered critical section\nProcess-Process-3:1 modified counter: 3 -> 4\n"
        "Process-Process-4:1 entered critical section\nProcess-Process-4:1 modified counter: 4 -> 5\n"
        "\nFinal counter value: 5 (expected value: 5)\n"
    ),
    "04_pool": "[1, 4, 9, 16, 25]\n",
}
CHECKS = {"01_processes": check_processes, "02_queue": check_queue, "03_lock": check_lock, "04_pool": check_pool}


@pytest.mark.parametrize("example", ARTICLE_OUTPUT)
def test_the_articles_sample_output_holds_the_claims(example):
    CHECKS[example](ARTICLE_OUTPUT[example])


@pytest.mark.parametrize("stdout", [
    "0\na\nb\n1\nc\n2\nd\n3\ne\n4\n5\nf\ng\n6\nh\n7h\n\n8\ni\nj\n9\n".replace("h\n7h", "7h"),  # merged: 7h
    "0a\n\nb\n1\nc\n2\nd\n3\ne\n4\n5\nf\ng\n6\nh\n7\n8\ni\nj\n9\n",
    "a\n0\n1\nb\n2c\n\n3\nd\ne\n4\n5\nf\ng\n6\nh\n7\n8\ni\nj\n9\n",
], ids=["7h", "0a", "2c"])
def test_lines_merged_by_concurrent_writes_still_hold(stdout):
    check_processes(stdout)


@pytest.mark.parametrize(("stdout", "reason"), [
    ("".join(f"{d}\n" for d in "0123456789") + "".join(f"{c}\n" for c in "abcdefghij"), "all digits came before the first of the letters"),
    ("".join(f"{c}\n" for c in "abcdefghij") + "".join(f"{d}\n" for d in "0123456789"), "all letters came before the first of the digits"),
    (ARTICLE_OUTPUT["01_processes"].replace("9", "10"), "never printed: 9"),
    (ARTICLE_OUTPUT["01_processes"] + "k\n", "unexpected output 'k'"),
    ("", "never printed: 0 1 2"),
], ids=["sequential", "letters-first", "ten", "stranger", "empty"])
def test_broken_01_output(stdout, reason):
    with pytest.raises(ClaimBroken, match=reason):
        check_processes(stdout)


@pytest.mark.parametrize(("stdout", "reason"), [
    (ARTICLE_OUTPUT["03_lock"].replace("modified counter: 2 -> 3", "modified counter: 1 -> 3"), "line 6: counter went 1 -> 3"),
    (ARTICLE_OUTPUT["03_lock"].replace("Process-5:1 modified", "Process-3:1 modified"), "line 6: Process-Process-3:1 modified the counter while Process-Process-5:1 held the lock"),
    (ARTICLE_OUTPUT["03_lock"].replace("Process-4:1", "Process-1:1"), "were not Process-1..5 once each"),
    (ARTICLE_OUTPUT["03_lock"].rstrip("\n"), "does not end with a newline"),
    (ARTICLE_OUTPUT["03_lock"] + "\n", "expected a blank line then"),
    ("", "line 1: expected"),
], ids=["lost-update", "other-process", "same-worker-twice", "no-final-newline", "extra-line", "empty"])
def test_broken_03_output(stdout, reason):
    with pytest.raises(ClaimBroken, match=reason):
        check_lock(stdout)


@pytest.mark.parametrize(("check", "stdout"), [
    (check_queue, "Hello, world!\r\n"), (check_queue, " Hello, world!\n"), (check_pool, "[1, 4, 9, 16, 25]\n\n"), (check_pool, "(1, 4, 9, 16, 25)\n"),
], ids=["crlf-left", "leading-space", "extra-line", "tuple"])
def test_exact_outputs_are_exact(check, stdout):
    with pytest.raises(ClaimBroken, match="expected exactly"):
        check(stdout)
