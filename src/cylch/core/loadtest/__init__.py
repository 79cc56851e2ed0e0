"""HTTP load and soak runs against a real server (``cylch bench http``, ``cylch bench soak``,
``tests/test_load.py``): ``world`` builds the hub and the plan, ``locustfile`` is the load
generator's users, ``harness`` starts the server and the load generator and reads the results."""
