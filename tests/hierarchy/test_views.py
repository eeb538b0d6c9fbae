def test_tree_expands_lazily_with_htmx_fragments(login, world):
    client = login("admin@test.sn")
    page = client.get("/hierarchie/").get_data(as_text=True)
    assert "Ministère" in page and "hx-get" in page
    ministry_id = page.split('id="node-')[1].split('"')[0]
    fragment = client.get(f"/hierarchie/noeuds/{ministry_id}/enfants", headers={"HX-Request": "true"})
    body = fragment.get_data(as_text=True)
    assert "Fédération A" in body and "<html" not in body


def test_create_child_error_is_shown_next_to_the_field_and_input_is_kept(login, world):
    client = login("admin@test.sn")
    page = client.get("/hierarchie/").get_data(as_text=True)
    ministry_id = page.split('id="node-')[1].split('"')[0]
    response = client.post(
        f"/hierarchie/noeuds/{ministry_id}/nouveau",
        data={"code": "FED-A", "name": "Fédération en double", "region": "Louga"},
    )
    body = response.get_data(as_text=True)
    assert 'id="code-error"' in body and "déjà utilisé" in body
    assert 'value="Fédération en double"' in body and 'value="Louga"' in body


def test_supervisor_sees_only_their_subtree_and_cannot_edit(login, world):
    client = login("sup.a@test.sn")
    page = client.get("/hierarchie/").get_data(as_text=True)
    assert "Fédération A" in page and "Fédération B" not in page and "Ministère" not in page
    federation_id = page.split('id="node-')[1].split('"')[0]
    assert client.get(f"/hierarchie/noeuds/{federation_id}/nouveau").status_code == 403
