"""Campaigns remember where their sources are and where they build.

``sources``: the source repositories (JSON list) the local backend rebuilds
from; ``workdir``: the campaign's build directory. With them, ``discomy
resume`` and ``discomy status`` need nothing but the campaign number.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sources', sa.Text(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('workdir', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_column('workdir')
        batch_op.drop_column('sources')
