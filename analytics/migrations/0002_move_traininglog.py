"""TrainingLog moves to the recommendations app (only training writes it): rename its table, forget its state.

recommendations.0002_traininglog takes the model over with the renamed table; no row is copied.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("analytics", "0001_initial")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.AlterModelTable("traininglog", "recommendations_traininglog")],
            state_operations=[migrations.DeleteModel("TrainingLog")],
        )
    ]
