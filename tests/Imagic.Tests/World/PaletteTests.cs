using Imagic.World;

namespace Imagic.Tests.World;

public class PaletteTests
{
    [Fact]
    public void ObjectColourEqualToBackground_IsNotAllowed()
    {
        Assert.DoesNotContain(NamedColor.White, Palette.ColorsOn(Background.White));
        Assert.DoesNotContain(NamedColor.Black, Palette.ColorsOn(Background.Black));
    }

    [Fact]
    public void AllowedColours_ContrastWithTheirBackground()
    {
        foreach (var background in Palette.Backgrounds)
            foreach (var color in Palette.ColorsOn(background))
                Assert.True(Palette.Of(color).DistanceTo(Palette.Of(background)) >= Palette.MinContrast, $"{color} on {background}");
    }

    [Fact]
    public void EveryBackground_AllowsAtLeastSevenColours()
    {
        Assert.All(Palette.Backgrounds, b => Assert.True(Palette.ColorsOn(b).Count >= 7, $"{b}"));
    }

    [Fact]
    public void NoAllowedColour_LooksLikeAnotherBlendedWithTheBackground()
    {
        // Anti-aliased edges show bg + α(c − bg). If another allowed colour lay near that segment
        // (pink between red and white, say), thin strokes would be ambiguous to the detector.
        foreach (var background in Palette.Backgrounds)
        {
            var bg = Palette.Of(background);
            foreach (var a in Palette.ColorsOn(background))
                foreach (var b in Palette.ColorsOn(background).Where(b => b != a))
                {
                    float closest = Enumerable.Range(0, 101).Min(i => bg.Lerp(Palette.Of(a), i / 100f).DistanceTo(Palette.Of(b)));
                    Assert.True(closest >= 0.25f, $"{b} is {closest:F3} from a blend of {a} with {background}");
                }
        }
    }
}
