"""Each node remembers where and how long its latest build attempt ran.

``host``: the builders of the attempt as the build system names them (koji's
buildArch hosts, ``arch:host`` joined by commas; the local machine's name);
``started_at``: when the attempt was submitted (the orchestrator's clock);
``build_seconds``: how long it ran, as the build system measured it (koji's task
start to completion; the local rpmbuild's wall time). The dashboard shows them
and counts actual compute-hours from them.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('nodes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('host', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('started_at', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('build_seconds', sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('nodes', schema=None) as batch_op:
        batch_op.drop_column('build_seconds')
        batch_op.drop_column('started_at')
        batch_op.drop_column('host')
