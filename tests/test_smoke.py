from tests.factories import make_popug, make_task, run_queued_shuffles


def test_sign_in_and_board(client, app):
    make_popug(role="worker", username="kesha", beak="curved like a banana")
    response = client.post(
        "/sign-in", data={"username": "kesha", "beak_shape": "curved like a banana"}
    )
    assert response.status_code == 302
    page = client.get("/")
    assert page.status_code == 200
    assert b"Create task" in page.data


def test_create_and_complete(worker_client, worker):
    response = worker_client.post(
        "/tasks", data={"title": "Feed the parrot", "jira_id": "uberpop-1"}
    )
    assert response.status_code == 303
    page = worker_client.get("/my-tasks")
    assert b"Feed the parrot" in page.data
    assert b"UBERPOP-1" in page.data


def test_shuffle(manager_client, worker, manager):
    make_popug(role="worker")
    for _ in range(5):
        make_task(worker)
    response = manager_client.post("/tasks/shuffle", data={"form_token": "abc"})
    assert response.status_code == 303, response.data
    run_queued_shuffles()
    page = manager_client.get(response.headers["Location"])
    assert b"Reassigned 5 open tasks among 2 popugs" in page.data
