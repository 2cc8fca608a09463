using Imagic.Evaluation;
using Imagic.Pipelines;
using Imagic.Schedulers;

namespace Imagic.Tests.Training;

public class NoiseRecoveryTests
{
    static string BundledModel => Path.Combine(TestPaths.RepoRoot, "models", "shapes");

    static double[] Rates(AttributeAccuracy a) => [a.Color, a.Shape, a.Size, a.Position, a.Pose, a.Background, a.AllPrimary];

    [Fact]
    public void Measure_FromPureNoiseIsTheEvaluation_AndFromTimestepZeroTheVaeRoundTrip()
    {
        // Given the bundled model and a small evaluation
        using var pipe = StableDiffusionPipeline.Load(BundledModel);
        var options = new ModelEvaluator.Options(Samples: 6, Steps: 4, Seed: 2, BatchSize: 4);

        // When sampling starts from pure noise, from halfway and from the clean latent
        var rows = NoiseRecovery.Measure(pipe, options, [0, 0.5, 1]);

        // Then the rows are placed on the DDIM schedule: none, two and all four steps skipped
        var ddim = new DdimScheduler(pipe.SchedulerConfig);
        ddim.SetTimesteps(4);
        Assert.Equal([0, 2, 4], rows.Select(r => r.SkippedSteps));
        Assert.Equal([(int)ddim.Timesteps[0], (int)ddim.Timesteps[2], 0], rows.Select(r => r.Timestep));
        // and the ends are the two measurements they extend: the same scenes and noise as eval-model, and the VAE alone
        Assert.Equal(Rates(ModelEvaluator.Evaluate(pipe, options).Accuracy), Rates(rows[0].Accuracy));
        Assert.Equal(Rates(ModelEvaluator.EvaluateReconstruction(pipe, options)), Rates(rows[2].Accuracy));
        Assert.All(rows, r => Assert.Equal(6, r.Accuracy.Samples));
    }

    [Fact]
    public void Measure_RejectsAFractionOutsideZeroToOne()
    {
        using var pipe = StableDiffusionPipeline.Load(BundledModel);
        Assert.Throws<ArgumentOutOfRangeException>(() => NoiseRecovery.Measure(pipe, new ModelEvaluator.Options(Samples: 1, Steps: 2), [1.5]));
    }
}
