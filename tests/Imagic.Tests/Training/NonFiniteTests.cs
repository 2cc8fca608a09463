using Imagic.Editing;
using Imagic.Tests.Cli;
using Imagic.Tests.Editing;
using Imagic.Training;
using TorchSharp;

namespace Imagic.Tests.Training;

public class NonFiniteTests
{
    [Fact]
    public void Check_FiniteLossAndGradients_Passes()
    {
        using var w = torch.ones(3).requires_grad_(true);
        using var adam = new Adam(new[] { ("w", w) }, 0.1);
        using var loss = w.Times(2).sum();
        loss.backward();

        NonFinite.Check(loss, adam, "stage A", 1);
    }

    [Fact]
    public void Check_NaNLoss_NamesStageAndStepAndSuggestsALowerLearningRate()
    {
        using var w = torch.ones(3).requires_grad_(true);
        using var adam = new Adam(new[] { ("w", w) }, 1e30);
        using var loss = w.Times(float.NaN).sum();

        var e = Assert.Throws<ImagicException>(() => NonFinite.Check(loss, adam, "stage B", 7));

        Assert.StartsWith("stage B, step 7: the loss is NaN", e.Message);
        Assert.Contains("try a lower one", e.Message);
    }

    [Fact]
    public void Check_InfiniteGradient_NamesTheParameter()
    {
        using var a = torch.ones(2).requires_grad_(true);
        using var b = torch.ones(2).requires_grad_(true);
        using var adam = new Adam(new[] { ("a", a), ("b", b) }, 1e-3);
        using var loss = a.sum().Plus(b.sum());
        loss.backward();
        using (torch.no_grad()) b.grad!.FillWith(float.PositiveInfinity);

        var e = Assert.Throws<ImagicException>(() => NonFinite.Check(loss, adam, "train VAE", 3));

        Assert.Contains("the gradient of 'b' is not finite", e.Message);
    }

    [Fact]
    public void IsAllFinite_HugeButFiniteValues_AreFinite()
    {
        using var huge = TensorExtensions.Full(new long[] { 1000 }, 3e38f);
        using var withNaN = torch.tensor(new[] { 1f, float.NaN });

        Assert.True(NonFinite.IsAllFinite(huge));
        Assert.False(NonFinite.IsAllFinite(withNaN));
        Assert.Equal(1, NonFinite.CountNonFinite(withNaN));
    }
}

[Collection(ConsoleCollection.Name)]
public class NonFiniteTrainingTests
{
    [Fact]
    public void Edit_AbsurdLearningRate_StopsAtTheFirstNaNLoss_AndKeepsTheLastCheckpoint()
    {
        var dir = TestPaths.NewTempDir();
        var run = Path.Combine(dir, "run");

        var (code, _, stderr) = CliHarness.Run("edit", "--image", EditTestData.WriteInputImage(dir), "--prompt", "a dog",
            "--model", TestPaths.TinySd1, "--out", run, "--embedding-steps", "1", "--finetune-steps", "4", "--finetune-lr", "1e30",
            "--checkpoint-every", "1", "--steps", "1", "--eta", "1");

        Assert.Equal(1, code);
        var error = Assert.Single(stderr.Split('\n'), l => l.StartsWith("error: "));
        Assert.Contains("stage B, step 2: the loss is NaN, so training stopped", error);
        Assert.Contains("try a lower one", error);
        // No result and no samples; the checkpoint of step 1, written before the bad step, is what the folder holds.
        Assert.False(File.Exists(Path.Combine(run, "unet_finetuned.safetensors")));
        Assert.False(Directory.Exists(Path.Combine(run, "samples")));
        var manifest = EditRun.Open(run).ReadManifest();
        Assert.Equal((nameof(EditStage.ModelFineTuning), 1), (manifest.Stage, manifest.Step));
        Assert.True(File.Exists(Path.Combine(run, "checkpoint", "state.safetensors")));
    }
}
