"""Koji campaigns: build mode, side tag, merge, and what each node waits on.

``campaigns``: ``mode`` (scratch or sidetag), ``dest_tag`` (where a passed
side-tag campaign is merged), ``sidetag`` (the per-campaign side tag once
created), ``merged`` (the merge finished), ``note`` (why a campaign paused),
``start_event`` (koji's last event when it started: later tags of a failed
package are fixes).
``nodes``: ``repo_wait`` (the repo request a built node waits for) and
``gate_since`` (when its CI gate started, for the gate's timeout).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mode', sa.String(length=20), nullable=False,
                                      server_default='scratch'))
        batch_op.add_column(sa.Column('dest_tag', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('sidetag', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('merged', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('note', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('start_event', sa.Integer(), nullable=True))
    with op.batch_alter_table('nodes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('repo_wait', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('gate_since', sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('nodes', schema=None) as batch_op:
        batch_op.drop_column('gate_since')
        batch_op.drop_column('repo_wait')
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        for column in ('start_event', 'note', 'merged', 'sidetag', 'dest_tag', 'mode'):
            batch_op.drop_column(column)
