import gc


def test_the_asgi_module_freezes_what_it_imported():
    """Full collections in a server with many sockets must not walk Django's
    import-time objects again (see config/asgi.py)."""
    import config.asgi  # noqa: F401

    assert gc.get_freeze_count() > 10_000
