"""Indexes for reading one campaign quickly, however large (the REST API).

A campaign's nodes in tier and name order, all or in one state, and its latest
change; what one node waits for and what waits for it. They replace the plain
``campaign_id`` indexes of ``nodes`` and ``edges``, which they begin with. On a
whole-distribution campaign (34k nodes, 248k edges) a page of nodes, a node's
links and the check that its counts are current each take well under a
millisecond instead of 5 to 25.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('nodes', schema=None) as batch_op:
        batch_op.create_index('ix_nodes_campaign_tier', ['campaign_id', 'tier', 'name'])
        batch_op.create_index('ix_nodes_campaign_state', ['campaign_id', 'state', 'tier', 'name'])
        batch_op.create_index('ix_nodes_campaign_updated', ['campaign_id', 'updated_at'])
        batch_op.drop_index('ix_nodes_campaign_id')
    with op.batch_alter_table('edges', schema=None) as batch_op:
        batch_op.create_index('ix_edges_campaign_node', ['campaign_id', 'node'])
        batch_op.create_index('ix_edges_campaign_dep', ['campaign_id', 'dep'])
        batch_op.drop_index('ix_edges_campaign_id')


def downgrade() -> None:
    with op.batch_alter_table('edges', schema=None) as batch_op:
        batch_op.create_index('ix_edges_campaign_id', ['campaign_id'])
        batch_op.drop_index('ix_edges_campaign_dep')
        batch_op.drop_index('ix_edges_campaign_node')
    with op.batch_alter_table('nodes', schema=None) as batch_op:
        batch_op.create_index('ix_nodes_campaign_id', ['campaign_id'])
        batch_op.drop_index('ix_nodes_campaign_updated')
        batch_op.drop_index('ix_nodes_campaign_state')
        batch_op.drop_index('ix_nodes_campaign_tier')
