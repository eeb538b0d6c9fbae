import pytest

from app.errors import FieldError, Forbidden
from app.security.actor import actor_for
from app.security.models import Account
from hierarchy import services
from hierarchy.errors import HierarchyRuleBroken
from hierarchy.models import NodeEvent, NodeKind, NodeStatus
from hierarchy.services import NodeDetails
from tests.fixtures.app import SYSTEM, node, unique


def _child(session, parent, name="Nœud", actor=SYSTEM):
    return services.create_child(
        session, actor, parent=parent, code=unique("N-"), details=NodeDetails(name=name)
    )


def _actor(session, email):
    return actor_for(session.query(Account).filter_by(email=email).one())


def test_each_level_creates_only_the_next_one(session, world):
    federation = _child(session, node(world.ministry))
    league = _child(session, federation)
    association = _child(session, league)
    assert [federation.kind, league.kind, association.kind] == [
        NodeKind.federation,
        NodeKind.league,
        NodeKind.association,
    ]
    with pytest.raises(HierarchyRuleBroken, match="association"):
        _child(session, association)
    with pytest.raises(HierarchyRuleBroken):
        services.create_root(session, SYSTEM, code="MIN-2", details=NodeDetails(name="Autre ministère"))


def test_bad_code_name_or_duplicate_code_are_field_errors(session, world):
    parent = node(world.league_a)
    for code, name, field in (("é!", "Nom", "code"), ("ASS-A", "Nom", "code"), ("OK-CODE", " ", "name")):
        with pytest.raises(FieldError) as refused:
            services.create_child(session, SYSTEM, parent=parent, code=code, details=NodeDetails(name=name))
        assert refused.value.field == field


def test_move_carries_the_subtree_within_the_same_tenant(session, world):
    federation = node(world.federation_a)
    league_1, league_2 = _child(session, federation), _child(session, federation)
    association = _child(session, league_1)
    services.move_node(session, SYSTEM, association, league_2)
    session.refresh(association)
    assert association.parent_id == league_2.id
    assert association.path == f"{league_2.path}{association.id}/"
    assert [r.node.id for r in services.list_children(session, SYSTEM, league_2)] == [association.id]
    assert league_2 in services.list_move_targets(session, SYSTEM, _child(session, league_1))


def test_move_refused_across_tenants_across_levels_and_into_itself(session, world):
    league_in_a = _child(session, node(world.federation_a))
    association = _child(session, league_in_a)
    league_in_b = _child(session, node(world.federation_b))
    with pytest.raises(HierarchyRuleBroken, match="autre mutuelle"):
        services.move_node(session, SYSTEM, league_in_a, node(world.federation_b))
    with pytest.raises(HierarchyRuleBroken, match="autre mutuelle"):
        services.move_node(session, SYSTEM, association, league_in_b)
    with pytest.raises(HierarchyRuleBroken, match="même niveau"):
        services.move_node(session, SYSTEM, association, node(world.federation_a))
    assert league_in_b not in services.list_move_targets(session, SYSTEM, association)


def test_close_requires_children_closed_and_a_reason_and_is_recorded(session, world):
    league = _child(session, node(world.federation_a))
    association = _child(session, league)
    with pytest.raises(HierarchyRuleBroken, match="Fermez d'abord"):
        services.close_node(session, SYSTEM, league, "fusion")
    with pytest.raises(FieldError):
        services.close_node(session, SYSTEM, association, "  ")
    services.close_node(session, SYSTEM, association, "dissoute")
    services.close_node(session, SYSTEM, league, "fusion")
    assert league.status is NodeStatus.closed and league.closed_at is not None
    with pytest.raises(HierarchyRuleBroken, match="fermé"):
        _child(session, league)
    actions = {e.action for e in services.list_history(session, SYSTEM, league)}
    assert actions == {"created", "closed"}


def test_rename_keeps_the_old_name_in_history(session, world):
    association = _child(session, node(world.league_a), name="Ancien nom")
    services.update_node(session, SYSTEM, association, NodeDetails(name="Nouveau nom", commune="Rufisque"))
    event = session.query(NodeEvent).filter_by(node_id=association.id, action="renamed").one()
    assert event.changes["name"] == ["Ancien nom", "Nouveau nom"]
    assert event.changes["commune"] == [None, "Rufisque"]


def test_grants_apply_to_their_subtree_only(session, world):
    manager_a = _actor(session, "manager.a@test.sn")
    _child(session, node(world.league_a), "Dans son périmètre", actor=manager_a)
    with pytest.raises(Forbidden):
        _child(session, node(world.federation_b), "Hors périmètre", actor=manager_a)
    supervisor = _actor(session, "sup.a@test.sn")
    with pytest.raises(Forbidden):
        _child(session, node(world.league_a), "Lecture seule", actor=supervisor)
    roots = services.list_roots(session, supervisor)
    assert [r.node.code for r in roots] == [world.federation_a]
    with pytest.raises(Forbidden):
        services.list_children(session, supervisor, node(world.federation_b))


def test_tree_counts_children_and_associations(session, world):
    federation = _child(session, node(world.ministry))
    league = _child(session, federation)
    _child(session, league)
    _child(session, league)
    row = next(
        r for r in services.list_children(session, SYSTEM, node(world.ministry)) if r.node.id == federation.id
    )
    assert (row.children, row.associations) == (1, 2)
