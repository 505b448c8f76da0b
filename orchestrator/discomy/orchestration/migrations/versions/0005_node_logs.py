"""Each node remembers where the whole log of its latest build attempt is.

``log``: a file under the campaign's work directory (local backend) or the
koji task's log URL; ``discomy status`` and the end of a foreground run show
it next to the reason of a failure.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('nodes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('log', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('nodes', schema=None) as batch_op:
        batch_op.drop_column('log')
