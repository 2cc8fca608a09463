using Imagic.Tests.Editing;

namespace Imagic.Tests.Cli;

[Collection(ConsoleCollection.Name)]
public class EditCommandTests
{
    [Fact]
    public void EditThenSample_EndToEnd_WritesRunAndGrids()
    {
        var dir = TestPaths.NewTempDir();
        var image = EditTestData.WriteInputImage(dir);
        var run = Path.Combine(dir, "run");

        var (code, stdout, stderr) = CliHarness.Run("edit", "--image", image, "--prompt", "a photo of a dog standing",
            "--model", TestPaths.TinySd1, "--out", run, "--embedding-steps", "3", "--finetune-steps", "3", "--steps", "2",
            "--eta", "0.5,1");

        Assert.True(code == 0, stderr);
        Assert.Contains("grid", stdout);
        Assert.True(File.Exists(Path.Combine(run, "samples", "grid.png")));
        Assert.True(File.Exists(Path.Combine(run, "samples", "eta_0.50_seed_0.png")));

        (code, stdout, stderr) = CliHarness.Run("sample", run, "--eta", "0.7", "--seeds", "2", "--steps", "2");

        Assert.True(code == 0, stderr);
        Assert.True(File.Exists(Path.Combine(run, "sweep-1", "grid.png")));
        Assert.True(File.Exists(Path.Combine(run, "sweep-1", "eta_0.70_seed_1.png")));
    }

    [Fact]
    public void Edit_WithLoraAndGradientCheckpointing_RecordsTheVariantAndSamples()
    {
        var dir = TestPaths.NewTempDir();
        var run = Path.Combine(dir, "run");

        var (code, stdout, stderr) = CliHarness.Run("edit", "--image", EditTestData.WriteInputImage(dir), "--prompt", "a dog",
            "--model", TestPaths.TinySd1, "--out", run, "--embedding-steps", "2", "--finetune-steps", "2", "--steps", "2",
            "--eta", "1", "--finetune", "lora", "--lora-rank", "2", "--gradient-checkpointing");

        Assert.True(code == 0, stderr);
        Assert.Contains("not the paper's method", stdout);
        var options = Imagic.Editing.EditRun.Open(run).ReadManifest().Options;
        Assert.Equal((Imagic.Training.FinetuneMethod.Lora, 2, true), (options.FinetuneMethod, options.LoraRank, options.GradientCheckpointing));
        Assert.True(File.Exists(Path.Combine(run, "samples", "grid.png")));
    }

    [Fact]
    public void EditHelp_LabelsLoraAsAVariantOfThePaper_AndNamesChoicesAsTheyAreTyped()
    {
        var (code, stdout, _) = CliHarness.Run("edit", "--help");
        Assert.Equal(0, code);
        Assert.Contains("a variant of the paper", stdout);
        Assert.Contains("--gradient-checkpointing", stdout);
        Assert.Contains("--finetune <full|lora|decoder>", stdout);
        Assert.Contains("--fit <crop|pad>", stdout);
        Assert.DoesNotContain("CenterCrop", stdout);
    }

    [Fact]
    public void Edit_UnknownFinetuneMethod_ListsTheChoicesNotATypeName()
    {
        var (code, _, stderr) = CliHarness.Run("edit", "--image", "x.png", "--prompt", "a dog", "--finetune", "bogus");
        Assert.Equal(1, code);
        Assert.Contains("'lora'", stderr);
        Assert.DoesNotContain("Imagic.Training", stderr);
    }

    [Fact]
    public void Edit_BadEtaList_FailsClearly()
    {
        var dir = TestPaths.NewTempDir();
        var (code, _, stderr) = CliHarness.Run("edit", "--image", EditTestData.WriteInputImage(dir), "--prompt", "a dog",
            "--model", TestPaths.TinySd1, "--out", Path.Combine(dir, "run"), "--eta", "0.5,lots");
        Assert.Equal(1, code);
        Assert.Contains("--eta must be comma-separated numbers", stderr);
    }

    [Fact]
    public void Sample_FolderThatIsNotARun_FailsClearly()
    {
        var (code, _, stderr) = CliHarness.Run("sample", TestPaths.NewTempDir());
        Assert.Equal(1, code);
        Assert.Contains("not an edit run folder", stderr);
    }
}

[Collection(ConsoleCollection.Name)]
public class BundledModelEditTests
{
    [Fact]
    public void Edit_WithoutModelOption_UsesTheBundledModel()
    {
        var dir = TestPaths.NewTempDir();
        var run = Path.Combine(dir, "run");

        var (code, stdout, stderr) = CliHarness.Run("edit", "--image", Path.Combine(TestPaths.RepoRoot, "samples", "red-circle.png"),
            "--prompt", "a large tall red circle in the center on a grey background", "--out", run,
            "--embedding-steps", "5", "--finetune-steps", "5", "--steps", "3", "--eta", "0.7");

        Assert.True(code == 0, stderr);
        Assert.Contains(Path.Combine("models", "shapes"), stdout);
        Assert.True(File.Exists(Path.Combine(run, "samples", "eta_0.70_seed_0.png")));
    }
}
