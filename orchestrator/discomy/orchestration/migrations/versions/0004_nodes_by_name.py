"""Nodes found by package name: a koji event names a package, and the daemon asks
whether it failed in any live campaign, for every event it receives.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_nodes_name_state', 'nodes', ['name', 'state'])


def downgrade() -> None:
    op.drop_index('ix_nodes_name_state', table_name='nodes')
