"""Forge webhooks: the deliveries taken (each once, by forge and delivery id: replay
protection) and the builds they started, with their states.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('webhook_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('forge', sa.String(length=20), nullable=False),
    sa.Column('delivery_id', sa.String(length=128), nullable=False),
    sa.Column('repository', sa.String(length=255), nullable=False),
    sa.Column('event', sa.String(length=100), nullable=False),
    sa.Column('received_at', sa.Float(), nullable=False),
    sa.Column('outcome', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('forge', 'delivery_id', name='uq_webhook_deliveries_forge_delivery_id')
    )
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_deliveries_received_at'), ['received_at'],
                              unique=False)
    op.create_table('webhook_builds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('delivery', sa.Integer(), nullable=False),
    sa.Column('forge', sa.String(length=20), nullable=False),
    sa.Column('repository', sa.String(length=255), nullable=False),
    sa.Column('branch', sa.String(length=255), nullable=False),
    sa.Column('commit', sa.String(length=64), nullable=False),
    sa.Column('mode', sa.String(length=10), nullable=False),
    sa.Column('backend', sa.String(length=10), nullable=False),
    sa.Column('target', sa.String(length=255), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('package', sa.String(length=255), nullable=False),
    sa.Column('nvr', sa.String(length=512), nullable=False),
    sa.Column('previous', sa.String(length=512), nullable=False),
    sa.Column('task', sa.String(length=255), nullable=False),
    sa.Column('log', sa.Text(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('submitted_at', sa.Float(), nullable=True),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('webhook_builds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_builds_delivery'), ['delivery'], unique=False)
        batch_op.create_index('ix_webhook_builds_state', ['state'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('webhook_builds', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_builds_state')
        batch_op.drop_index(batch_op.f('ix_webhook_builds_delivery'))
    op.drop_table('webhook_builds')
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_deliveries_received_at'))
    op.drop_table('webhook_deliveries')
