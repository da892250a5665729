"""Long-lived processes keep their start-up objects out of the cyclic collector."""

import gc


def test_the_asgi_module_freezes_what_it_imported():
    """Full collections in a server with many sockets must not walk Django's
    import-time objects again (see config/asgi.py)."""
    import config.asgi  # noqa: F401

    assert gc.get_freeze_count() > 10_000


def test_a_worker_freezes_its_start_up_objects_and_collects_less_often():
    from celery.signals import worker_process_init, worker_ready

    from config.celery import WORKER_GC_THRESHOLD

    before = gc.get_threshold()
    try:
        worker_ready.send(sender=None)
        assert gc.get_threshold() == WORKER_GC_THRESHOLD
        assert gc.get_freeze_count() > 10_000
        gc.set_threshold(*before)
        worker_process_init.send(sender=None)  # a prefork child
        assert gc.get_threshold() == WORKER_GC_THRESHOLD
    finally:
        gc.set_threshold(*before)
