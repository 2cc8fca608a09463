using Imagic.Imaging;
using Imagic.World;

namespace Imagic.Tests.World;

/// <summary>
/// The repository's <c>samples/</c> are renders of <see cref="SampleScenes"/>, pixel for pixel. Run with
/// <c>IMAGIC_WRITE_SAMPLES=1</c> to rewrite them after a deliberate change to the world or the scenes.
/// </summary>
public class SampleScenesTests
{
    static string SamplesDir => Path.Combine(TestPaths.RepoRoot, "samples");

    [Fact]
    public void CommittedSamples_AreExactlyTheRendersOfTheirScenes()
    {
        bool write = Environment.GetEnvironmentVariable("IMAGIC_WRITE_SAMPLES") == "1";
        foreach (var (file, scene) in SampleScenes.All())
        {
            var render = SceneRenderer.Render(scene, SampleScenes.Size).ToImage();
            var path = Path.Combine(SamplesDir, file);
            if (write)
                ImageIO.SavePng(render, path);

            var committed = ImageIO.Load(path);
            Assert.Equal((SampleScenes.Size, SampleScenes.Size), (committed.Width, committed.Height));
            Assert.True(render.Pixels.AsSpan().SequenceEqual(committed.Pixels), $"samples/{file} is not the render of its scene: {Captioner.Canonical(scene)}");
        }
    }

    [Fact]
    public void SampleScenes_ShowWhatTheirFileNamesSay()
    {
        var scenes = SampleScenes.All().ToDictionary(s => s.File, s => s.Scene);

        Assert.Equal("a medium regular red circle in the center on a grey background", Captioner.Canonical(scenes["red-circle.png"]));
        Assert.NotNull(scenes["red-circle.png"].Detail?.Clutter);
        Assert.Equal(Shape.Star, scenes["yellow-star.png"].Primary.Shape);
        Assert.Equal(Shape.Ring, scenes["green-triangle-and-ring.png"].Secondary?.Shape);
        // Every file is a different scene.
        Assert.Equal(4, scenes.Values.Select(Captioner.Canonical).Distinct().Count());
    }

    [Fact]
    public void DetectorReadsEverySampleAsItsScene()
    {
        foreach (var (file, scene) in SampleScenes.All())
        {
            var read = SceneDetector.Detect(SceneImage.From(ImageIO.Load(Path.Combine(SamplesDir, file))), WorldVersion.V2);
            Assert.True(DetectionMatch.Compare(scene, read).All, $"{file}: read as {read}");
        }
    }
}
